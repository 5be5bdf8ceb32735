"""The ground floor: PIDs, the wire format, the control protocol, ZeroMQ sockets, the mesh of
peers, Linux process plumbing, run directories and the zygote. Nothing here knows of
processes, the registry or workflows."""
