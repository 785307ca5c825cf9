"""The agent toolbar (坐席工具条, issue 19): an embeddable custom element and a reference agent page.

- ``static/toolbar.js``: one ES module served at ``/agent/toolbar.js`` (no build step, nothing from the
  internet) defining ``<cti-agent-toolbar>``; it talks to the agent desktop API and WebSocket
  (cti/calls/api.py) and the tickets API with the agent's own session, and raises DOM events
  ``cti-screen-pop``, ``cti-call-ended``, ``cti-transfer-state``, ``cti-ticket-created``.
- ``static/agent.html``: the reference agent page at ``/agent``, built on the element.
- :mod:`cti.toolbar.part`: those two routes and the small reads the page needs (the agent's desk: its
  queue state, pause reasons, request types; the caller's last tickets; the hotline directory as the
  transfer picker shows it), and CORS for the ticket-system origins in ``calls.toolbar_origins``.
"""
