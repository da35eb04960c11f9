"""Every business write of the orders app, one module per part of the flow."""
