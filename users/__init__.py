"""Users and authentication: the custom user model (email login, roles), the address book,
JWT issue/rotation/revocation and login throttling. Depends on nothing but `nexus`."""
