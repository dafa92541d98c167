use super::*;
use proptest::prelude::*;

/// An offer as Chromium writes one for a data channel, before any candidate is gathered.
const CHROMIUM_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Ab3d\r\n\
a=ice-pwd:0123456789abcdefghijkl+/\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 7A:11:2B:C4:09:EE:31:5D:6F:80:A2:B3:C4:D5:E6:F7:08:19:2A:3B:4C:5D:6E:7F:80:91:A2:B3:C4:D5:E6:F7\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sctp-port:5000\r\n\
a=max-message-size:262144\r\n";

const GATHERED: [&str; 4] = [
    "candidate:3122457137 1 udp 2113937151 127.0.0.1 54321 typ host generation 0 ufrag Ab3d network-cost 999",
    "a=candidate:842163049 1 udp 1677729535 203.0.113.7 61000 typ srflx raddr 10.0.0.2 rport 54321 generation 0",
    "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0",
    "candidate:2 1 udp 41885439 198.51.100.1 3478 typ relay raddr 203.0.113.7 rport 61000",
];

fn alice() -> PeerId {
    PeerId::parse("alice-4kQz8mPw").unwrap()
}

#[test]
fn a_chromium_offer_keeps_what_the_answerer_needs() {
    let invite = Invite::from_sdp(Kind::Offer, alice(), CHROMIUM_OFFER, GATHERED).unwrap();
    assert_eq!(invite.ufrag, "Ab3d");
    assert_eq!(invite.pwd, "0123456789abcdefghijkl+/");
    assert_eq!(invite.fingerprint[0], 0x7A);
    assert_eq!(invite.fingerprint[31], 0xF7);
    assert_eq!(invite.setup, Setup::ActPass);
    assert_eq!(
        invite.candidates,
        [
            Candidate {
                kind: CandidateType::Host,
                transport: Transport::Udp,
                address: Address::Ip("127.0.0.1".parse().unwrap()),
                port: 54321,
            },
            Candidate {
                kind: CandidateType::ServerReflexive,
                transport: Transport::Udp,
                address: Address::Ip("203.0.113.7".parse().unwrap()),
                port: 61000,
            },
            Candidate {
                kind: CandidateType::Host,
                transport: Transport::Tcp(TcpType::Active),
                address: Address::Ip("127.0.0.1".parse().unwrap()),
                port: 9,
            },
            Candidate {
                kind: CandidateType::Relay,
                transport: Transport::Udp,
                address: Address::Ip("198.51.100.1".parse().unwrap()),
                port: 3478,
            },
        ]
    );
    let text = invite.encode();
    assert!(text.len() <= 160, "{} characters: {text}", text.len());
    assert_eq!(Invite::decode(&text).unwrap(), invite);
}

#[test]
fn the_rebuilt_description_reads_back_the_same() {
    let invite = Invite::from_sdp(Kind::Offer, alice(), CHROMIUM_OFFER, GATHERED).unwrap();
    let sdp = invite.to_sdp();
    for line in [
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "a=ice-ufrag:Ab3d",
        "a=setup:actpass",
        "a=mid:0",
        "a=sctp-port:5000",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 54321 typ host",
        "a=candidate:2 1 udp 1694498559 203.0.113.7 61000 typ srflx raddr 0.0.0.0 rport 0",
        "a=candidate:3 1 tcp 2130705919 127.0.0.1 9 typ host tcptype active",
        "a=end-of-candidates",
    ] {
        assert!(sdp.lines().any(|l| l == line), "missing {line:?} in\n{sdp}");
    }
    assert!(sdp.ends_with("\r\n") && !sdp.contains("\n\n"));
    let again = Invite::from_sdp(Kind::Offer, alice(), &sdp, []).unwrap();
    assert_eq!(again, invite);
}

#[test]
fn mdns_candidates_are_carried_as_their_uuid() {
    let line =
        "candidate:9 1 udp 2113937151 1f4c2b8e-0d6a-4c3e-9b1a-2d3e4f5a6b7c.local 50000 typ host";
    let invite = Invite::from_sdp(Kind::Answer, alice(), CHROMIUM_OFFER, [line]).unwrap();
    assert!(matches!(invite.candidates[0].address, Address::Mdns(_)));
    assert!(
        invite
            .to_sdp()
            .contains("1f4c2b8e-0d6a-4c3e-9b1a-2d3e4f5a6b7c.local 50000 typ host")
    );
    assert_eq!(Invite::decode(&invite.encode()).unwrap(), invite);
}

#[test]
fn what_the_format_cannot_carry_is_skipped_or_refused() {
    let skipped = [
        "candidate:1 2 udp 1 127.0.0.1 5 typ host", // the RTCP component
        "candidate:1 1 udp 1 not-an-address 5 typ host", // neither IP nor mDNS
        "candidate:1 1 sctp 1 127.0.0.1 5 typ host", // no such transport
        "candidate:1 1 udp 1 127.0.0.1 5 typ other", // no such type
        "candidate:1 1 udp 1 127.0.0.1 99999 typ host", // no such port
        "garbage",
    ];
    let invite = Invite::from_sdp(Kind::Offer, alice(), CHROMIUM_OFFER, skipped).unwrap();
    assert!(invite.candidates.is_empty());

    let sha1 = CHROMIUM_OFFER.replace("sha-256 7A:11", "sha-1 7A:11");
    assert_eq!(
        Invite::from_sdp(Kind::Offer, alice(), &sha1, []),
        Err(InviteError::Description("SHA-256 fingerprint"))
    );
    let no_ufrag = CHROMIUM_OFFER.replace("a=ice-ufrag:Ab3d\r\n", "");
    assert_eq!(
        Invite::from_sdp(Kind::Offer, alice(), &no_ufrag, []),
        Err(InviteError::Description("ICE ufrag"))
    );
}

#[test]
fn candidates_are_bounded_and_not_repeated() {
    let lines: Vec<String> = (0..40)
        .map(|i| format!("candidate:{i} 1 udp 1 127.0.0.{} 5000 typ host", i % 20))
        .collect();
    let invite = Invite::from_sdp(
        Kind::Offer,
        alice(),
        CHROMIUM_OFFER,
        lines.iter().map(String::as_str),
    )
    .unwrap();
    assert_eq!(invite.candidates.len(), MAX_CANDIDATES);
    let mut unique = invite.candidates.clone();
    unique.dedup();
    assert_eq!(unique.len(), MAX_CANDIDATES);
}

#[test]
fn pasted_links_and_bare_text_give_the_invite_text() {
    assert_eq!(pasted_text(" https://a.example/p/#answer=AgEx \n"), "AgEx");
    assert_eq!(pasted_text("https://a.example/?seed=x#invite=AgAx"), "AgAx");
    assert_eq!(pasted_text("AgEx"), "AgEx");
    assert_eq!(pasted_text("  "), "");
}

#[test]
fn an_answer_names_the_offer_it_answers() {
    let offer = Invite::from_sdp(Kind::Offer, alice(), CHROMIUM_OFFER, GATHERED).unwrap();
    let mut answer = Invite::from_sdp(Kind::Answer, alice(), CHROMIUM_OFFER, GATHERED).unwrap();
    answer.in_reply_to = Some(offer.ufrag.clone());
    let back = Invite::decode(&answer.encode()).unwrap();
    assert_eq!(back.in_reply_to.as_deref(), Some(offer.ufrag.as_str()));
    // An offer never carries one, whatever the value says.
    let mut offer_with = offer.clone();
    offer_with.in_reply_to = Some("abcd".into());
    assert_eq!(Invite::decode(&offer_with.encode()).unwrap(), offer);
}

#[test]
fn damaged_invites_say_what_to_do() {
    let text = Invite::from_sdp(Kind::Offer, alice(), CHROMIUM_OFFER, GATHERED)
        .unwrap()
        .encode();
    assert!(matches!(
        Invite::decode(&text[..text.len() - 4]),
        Err(InviteError::Malformed(_))
    ));
    assert_eq!(Invite::decode("not base64!"), Err(InviteError::NotBase64));
    assert_eq!(
        Invite::decode(&"A".repeat(MAX_ENCODED_LEN + 1)),
        Err(InviteError::TooLong(MAX_ENCODED_LEN + 1))
    );
    let mut newer = URL_SAFE_NO_PAD.decode(&text).unwrap();
    newer[0] = INVITE_VERSION + 1;
    assert_eq!(
        Invite::decode(&URL_SAFE_NO_PAD.encode(newer)),
        Err(InviteError::Version(INVITE_VERSION + 1))
    );
    let mut longer = URL_SAFE_NO_PAD.decode(&text).unwrap();
    longer.push(0);
    assert!(matches!(
        Invite::decode(&URL_SAFE_NO_PAD.encode(longer)),
        Err(InviteError::Malformed(_))
    ));
}

fn ice_text(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9+/]{{{min},{max}}}")).unwrap()
}

fn candidate() -> impl Strategy<Value = Candidate> {
    let kind = prop_oneof![
        Just(CandidateType::Host),
        Just(CandidateType::ServerReflexive),
        Just(CandidateType::PeerReflexive),
        Just(CandidateType::Relay),
    ];
    let transport = prop_oneof![
        Just(Transport::Udp),
        Just(Transport::Tcp(TcpType::Passive)),
        Just(Transport::Tcp(TcpType::Active)),
        Just(Transport::Tcp(TcpType::SimultaneousOpen)),
    ];
    let address = prop_oneof![
        any::<[u8; 4]>().prop_map(|b| Address::Ip(IpAddr::V4(b.into()))),
        any::<[u8; 16]>().prop_map(|b| Address::Ip(IpAddr::V6(b.into()))),
        any::<[u8; 16]>().prop_map(Address::Mdns),
    ];
    (kind, transport, address, any::<u16>()).prop_map(|(kind, transport, address, port)| {
        Candidate {
            kind,
            transport,
            address,
            port,
        }
    })
}

fn invite() -> impl Strategy<Value = Invite> {
    (
        any::<bool>(),
        "[a-z0-9]{1,20}",
        ice_text(4, 32),
        ice_text(22, 64),
        any::<[u8; 32]>(),
        0u8..3,
        proptest::collection::vec(candidate(), 0..=MAX_CANDIDATES),
        proptest::option::of(ice_text(4, 32)),
    )
        .prop_map(
            |(answer, from, ufrag, pwd, fingerprint, setup, candidates, in_reply_to)| Invite {
                kind: if answer { Kind::Answer } else { Kind::Offer },
                // Only answers carry the offer they answer.
                in_reply_to: in_reply_to.filter(|_| answer),
                from: PeerId::parse(&from).unwrap(),
                ufrag,
                pwd,
                fingerprint,
                setup: [Setup::ActPass, Setup::Active, Setup::Passive][usize::from(setup)],
                candidates,
            },
        )
}

proptest! {
    /// Every invite survives its encoding, and the description it rebuilds reads back the same.
    #[test]
    fn invites_round_trip(invite in invite()) {
        let text = invite.encode();
        prop_assert!(text.len() <= MAX_ENCODED_LEN);
        prop_assert_eq!(Invite::decode(&text), Ok(invite.clone()));
        let mut unique = invite.clone();
        let mut seen = Vec::new();
        unique.candidates.retain(|c| {
            let new = !seen.contains(c);
            seen.push(*c);
            new
        });
        // The description holds no reference to an offer: that travels in the invite alone.
        unique.in_reply_to = None;
        let sdp = invite.to_sdp();
        prop_assert_eq!(Invite::from_sdp(invite.kind, invite.from.clone(), &sdp, []), Ok(unique));
    }

    /// No text, however made, panics the reader.
    #[test]
    fn any_text_is_read_or_refused(text in ".{0,300}") {
        let _ = Invite::decode(&text);
    }

    /// A real invite with any bytes changed is read or refused, never a panic.
    #[test]
    fn damaged_bytes_are_read_or_refused(
        invite in invite(),
        changes in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut bytes = URL_SAFE_NO_PAD.decode(invite.encode()).unwrap();
        for (at, value) in changes {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let _ = Invite::decode(&URL_SAFE_NO_PAD.encode(bytes));
    }

    /// Any lines in a description are read or refused, never a panic.
    #[test]
    fn any_description_is_read_or_refused(sdp in ".{0,400}", lines in proptest::collection::vec(".{0,80}", 0..20)) {
        let _ = Invite::from_sdp(Kind::Offer, alice(), &sdp, lines.iter().map(String::as_str));
    }
}
