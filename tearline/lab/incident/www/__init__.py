"""Static pages of the incident's front end (a package only so that its files ship with tearline)."""
