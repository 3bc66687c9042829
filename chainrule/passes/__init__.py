"""IR -> IR clean-up and optimisation passes."""
