"""World models, regularisers and planners: what learns or plans, never what simulates."""
