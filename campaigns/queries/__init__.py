"""What the web app's pages and API read from the database (and the one status they
write for an import that broke), as plain functions taking a Database and returning
plain data: no HTTP here, no roles but the masking campaigns/privacy.py asks for."""
