"""The bundled MCP load-test server (a Quart app on `/mcp`)."""
