//! Data-channel messages: PeerJS serializations and seedmesh framing.
