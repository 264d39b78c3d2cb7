"""Toy plugins that the README recipes register: an env, a world model and a planner."""
