"""The pure run engine: no I/O, no clock, no randomness (those come in through `Clock`)."""
