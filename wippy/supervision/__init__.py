"""Supervision as pure decisions, in Erlang's and Wippy's words: restart types, strategies,
intensity, service backoff. The node applies them; nothing here touches a process or a clock."""
