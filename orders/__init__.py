"""Orders: prescriptions from intake to verified product."""
