"""Invoice and report documents (CSV, printable HTML, hand-written SVG charts).

Pure functions from the domain's dataclasses to text: no I/O, no templates engine, no new
dependency. HTML escapes every value that comes from configuration or events.
"""
