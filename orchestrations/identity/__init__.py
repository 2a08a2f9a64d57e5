"""Who is calling and what they may do: roles, Entra ID access tokens, scoped API keys.

Free of Azure Functions: the HTTP layer hands in the request's headers and gets a `Principal`
back, or an exception it turns into a 401/503 answer.
"""
