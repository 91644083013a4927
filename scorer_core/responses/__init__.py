"""Byte-exact response bodies and event documents, as the reference's serializers produce them."""
