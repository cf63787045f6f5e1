"""Demo accounts and prescriptions for local development (refused with DEBUG off)."""
