"""The user-management hub: the account summary and the lists behind its cards."""
