//! QR codes as SVG, for invite links a phone camera can read off another screen.
//!
//! ```
//! let svg = seedmesh_core::qr::svg("https://example.org/#invite=AgA").unwrap();
//! assert!(svg.starts_with("<svg"));
//! ```

use core::fmt::{self, Write as _};

use qrcodegen::{QrCode, QrCodeEcc};

/// The longest text [`svg`] encodes, in bytes: a QR code at medium error correction holds at
/// most 2,331 bytes, and a code that large is too dense for a phone camera to read off a screen.
pub const MAX_QR_TEXT: usize = 1_024;
/// The light margin around the code, in modules, as the standard asks.
const QUIET_ZONE: i32 = 4;

/// Why a text could not become a QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QrError {
    /// The text is longer than [`MAX_QR_TEXT`] bytes: share it as a link instead.
    TooLong(usize),
}

impl fmt::Display for QrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(len) => write!(
                f,
                "{len} bytes are too many for a QR code a camera can read (at most \
                 {MAX_QR_TEXT}); share the link instead"
            ),
        }
    }
}

impl std::error::Error for QrError {}

/// The QR code of `text` as an SVG document: dark modules as one path on a light square, with
/// a quiet zone, scaled by its `viewBox` to whatever size the page gives it. Medium error
/// correction, so a glare or a smudge on the screen still reads.
pub fn svg(text: &str) -> Result<String, QrError> {
    if text.len() > MAX_QR_TEXT {
        return Err(QrError::TooLong(text.len()));
    }
    let code =
        QrCode::encode_text(text, QrCodeEcc::Medium).map_err(|_| QrError::TooLong(text.len()))?;
    let size = code.size();
    let full = size + 2 * QUIET_ZONE;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{full}\" height=\"{full}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\""
    );
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if !code.get_module(x, y) {
                x += 1;
                continue;
            }
            // One rectangle per run of dark modules in a row.
            let start = x;
            while x < size && code.get_module(x, y) {
                x += 1;
            }
            let _ = write!(
                out,
                "M{},{}h{}v1h-{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                x - start
            );
        }
    }
    out.push_str("\"/></svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dark modules an SVG draws, read back from its path.
    fn modules(svg: &str) -> (i32, Vec<(i32, i32)>) {
        let full: i32 = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("a viewBox");
        let path = svg.split(" d=\"").nth(1).expect("a path");
        let path = &path[..path.find('"').expect("the path's end")];
        let mut dark = Vec::new();
        for run in path.split('z').filter(|r| !r.is_empty()) {
            let (start, len) = run[1..].split_once('h').expect("a run");
            let (x, y) = start.split_once(',').expect("x,y");
            let (x, y): (i32, i32) = (x.parse().unwrap(), y.parse().unwrap());
            let len: i32 = len.split('v').next().unwrap().parse().unwrap();
            dark.extend((x..x + len).map(|x| (x, y)));
        }
        (full, dark)
    }

    #[test]
    fn the_svg_draws_the_code_with_its_quiet_zone() {
        let text = "https://seedmesh.example/#invite=AgAOYWxpY2UtNGtRejhtUHdSdDJ2WHk5Yg";
        let code = QrCode::encode_text(text, QrCodeEcc::Medium).unwrap();
        let (full, dark) = modules(&svg(text).unwrap());
        assert_eq!(full, code.size() + 2 * QUIET_ZONE);
        let mut expected = Vec::new();
        for y in 0..code.size() {
            for x in 0..code.size() {
                if code.get_module(x, y) {
                    expected.push((x + QUIET_ZONE, y + QUIET_ZONE));
                }
            }
        }
        assert_eq!(dark, expected);
        // The three finder patterns' corners are dark; the quiet zone is not.
        for (x, y) in [(0, 0), (code.size() - 1, 0), (0, code.size() - 1)] {
            assert!(dark.contains(&(x + QUIET_ZONE, y + QUIET_ZONE)));
        }
        assert!(
            dark.iter()
                .all(|&(x, y)| (QUIET_ZONE..full - QUIET_ZONE).contains(&x)
                    && (QUIET_ZONE..full - QUIET_ZONE).contains(&y))
        );
    }

    #[test]
    fn an_invite_link_fits_a_small_code_and_too_much_text_is_refused() {
        // An invite link of the size the browser makes (~130 characters of invite).
        let link = format!("https://seedmesh.example/app/#invite={}", "A".repeat(140));
        let (full, _) = modules(&svg(&link).unwrap());
        assert!(full - 2 * QUIET_ZONE <= 57, "version 10 or smaller");
        assert_eq!(
            svg(&"x".repeat(MAX_QR_TEXT + 1)),
            Err(QrError::TooLong(MAX_QR_TEXT + 1))
        );
        assert!(svg(&"x".repeat(MAX_QR_TEXT)).is_ok());
    }
}
