"""Pure functions turning archived Kaiten records into Planka payloads."""
