"""Signals the domain sends, so that views of it (the live monitor) learn of changes without the domain
knowing about them."""

from django.dispatch import Signal

# Sent after the commit of any change to business processes or their callbacks; argument: business_process_ids.
business_process_changed = Signal()
