//! Discovery: where the network is, from DNS TXT records read over DNS-over-HTTPS.
