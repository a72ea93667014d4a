package netguard
