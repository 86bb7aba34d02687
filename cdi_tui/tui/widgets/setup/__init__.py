"""The steps of the guided setup, one widget each, and the stepper above them."""
