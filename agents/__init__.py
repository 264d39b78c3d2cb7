"""World models, regularisers and planners: everything that learns or plans, nothing that simulates."""
