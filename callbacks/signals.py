"""Signals the domain sends, so that views of it (the live monitor) learn of changes without the domain
knowing about them."""

from django.dispatch import Signal

# Sent after the commit of any change to a business process or its callbacks; argument: business_process_id.
business_process_changed = Signal()
