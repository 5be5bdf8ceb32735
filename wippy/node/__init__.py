"""The node: the root OS process of ``wippy run``, composed of parts with narrow interfaces."""
