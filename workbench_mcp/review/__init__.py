"""Human review channels (README "Human review"): review requests delivered to reviewers (webhook + signed
one-time review links), answers inside the MCP client (elicitation). Sits above the service layer."""
