"""The compatibility matrix (data) and the pure checks that hold an inventory's pins to it."""
