"""The stylesheet of the profile pages: plain, printable, readable without any script.

A Python string rather than a .css file, so that it ships in the wheel with the code (the
package data patterns in pyproject.toml take JSON, not CSS).
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 90rem; padding: 0 1rem;
       color: #1d2733; line-height: 1.45; }
header nav a { margin-right: 1rem; }
h1 { margin-bottom: 0.2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.meta dt { font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #c8d1db; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
td { overflow-wrap: anywhere; }
th { background: #eef2f6; }
tr.changed td:first-child { border-left: 4px solid #2b6cb0; }
tr.prohibited { color: #8a94a0; text-decoration: line-through; }
td.path { font-family: ui-monospace, monospace; white-space: nowrap; }
code, pre { font-family: ui-monospace, monospace; }
pre { background: #f5f7f9; border: 1px solid #dde3ea; padding: 0.75rem; overflow-x: auto; }
.ms { font-weight: 700; color: #b7410e; }
.muted { color: #5c6773; }
"""
