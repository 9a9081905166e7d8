"""Array-module-generic primitive implementations (xp = numpy or cupy)."""
