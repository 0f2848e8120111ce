"""All SQL lives here (psycopg 3). Functions take a connection and run a few
indexed statements; they never commit: the caller owns the transaction."""
