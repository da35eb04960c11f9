"""Plumbing every app needs and that holds no models (DESIGN.md section 3): it sits below
every app in the dependency order, so any app may import it and it imports none of them."""
