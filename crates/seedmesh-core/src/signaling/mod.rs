//! Signaling: the PeerServer protocol that PeerJS speaks, as a state machine.
