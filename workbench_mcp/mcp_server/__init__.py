"""MCP adapter: tools and resources as thin translations of RunService calls."""
