"""The domain: business rules over the canonical model."""
