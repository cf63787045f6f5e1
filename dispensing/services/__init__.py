"""State changes of the dispensing app. Each runs in one transaction."""
