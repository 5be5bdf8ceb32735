"""The web observer (S10): a page showing a running node (its process tree, message rates and
restarts over time, registry versions with their diffs and authors, workflows with their
journals), a JSON API under it, and Prometheus metrics at ``/metrics`` on the same port.

It runs in an OS process of its own, forked through the zygote and supervised by the node
(:mod:`wippy.node.observe`), attached to the node as a program is
(:class:`wippy.client.Connection`). The modules:

* :mod:`~wippy.observe.metrics`: the metrics user code records in any OS process
  (``collector()``), plain data that reaches ``/metrics`` through the node's status; it is
  imported by hosts, so this package's ``__init__`` imports nothing;
* :mod:`~wippy.observe.source`: the observer's one link to the node (a thread owning the
  connection, the registry and the journal, read-only but for the operator's actions);
* :mod:`~wippy.observe.views`: what the page shows, as pure functions of what the node says;
* :mod:`~wippy.observe.auth`: who may write (the operator's token);
* :mod:`~wippy.observe.prom`: the Prometheus exposition (the one importer of
  prometheus_client);
* :mod:`~wippy.observe.app`: the ASGI application (routes, JSON, the page);
* :mod:`~wippy.observe.server`: the OS process (Granian embedded, as an HTTP server is);
* ``page.html``: the page, one static file of plain JavaScript and inline SVG.
"""
