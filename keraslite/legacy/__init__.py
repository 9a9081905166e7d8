"""Readers for the dialects that other Keras releases write (see keras2_compat)."""
