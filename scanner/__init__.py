"""Pure domain code: scan engines, their models and rules. No Azure Functions imports here."""
