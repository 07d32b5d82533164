"""Scenario suite configuration: every scenario here runs against the plugin's
`mcp_server` (the bundled server unless --mcp-url / --mcp-server-cmd say otherwise)."""
