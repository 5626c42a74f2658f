"""Sender reputation from outside: DNS blocklists and Microsoft SNDS (spec section 13)."""
