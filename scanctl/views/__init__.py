"""How answers are drawn: tables and the live progress view (rich, imported only here)."""
