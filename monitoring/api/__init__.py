"""The monitor's read API (the columns of every business process, as numbers) and the Stop / Resume actions."""
