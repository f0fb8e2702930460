"""Resource quota accounting shared by the ResourceQuota admission plugin and controller."""
