"""K functions grouped by theme. Each module defines its primitives (shape inference + VJP) next
to the K functions that build them."""
