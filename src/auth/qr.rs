//! The QR code of a TOTP enrolment, drawn for a page (SVG) or a terminal (the CLI).

use std::fmt::Write as _;

use qrcode::render::unicode::Dense1x2;
use qrcode::{Color, QrCode};

/// Quiet zone around the SVG QR code, in modules (the QR spec minimum).
const QUIET_ZONE: usize = 4;

/// Renders `data` as an inline SVG QR code: black modules on a white
/// background with a 4-module quiet zone, sized only by its `viewBox` so CSS
/// can scale it. Uses presentation attributes only (no `style=`), so it is
/// fine under a strict CSP.
///
/// Returns an empty string if `data` is too long for a QR code (about 2.9 KB),
/// which cannot happen for an `otpauth://` URI.
pub fn qr_svg(data: &str) -> String {
    let Ok(code) = QrCode::new(data.as_bytes()) else {
        return String::new();
    };
    let width = code.width();
    let size = width + 2 * QUIET_ZONE;
    let colors = code.to_colors();

    // One sub-path per horizontal run of dark modules keeps the output small.
    let mut path = String::new();
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] == Color::Dark {
                let run = row[x..].iter().take_while(|&&c| c == Color::Dark).count();
                // Writing to a String cannot fail.
                let _ = write!(
                    path,
                    "M{} {}h{run}v1h-{run}z",
                    x + QUIET_ZONE,
                    y + QUIET_ZONE
                );
                x += run;
            } else {
                x += 1;
            }
        }
    }

    format!(
        concat!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" "##,
            r##"shape-rendering="crispEdges" role="img" aria-label="QR code">"##,
            r##"<rect width="{size}" height="{size}" fill="#fff"/>"##,
            r##"<path fill="#000" d="{path}"/></svg>"##,
        ),
        size = size,
        path = path,
    )
}

/// Renders `data` as a QR code for a terminal, two modules per character
/// using Unicode half blocks, with a 4-module quiet zone.
///
/// Light modules are drawn as blocks and dark ones as blanks, so the code
/// scans on the usual dark-background terminal and the quiet zone is visible
/// (the same convention as `qrencode -t utf8`).
///
/// Returns an empty string if `data` is too long for a QR code.
pub fn qr_terminal(data: &str) -> String {
    let Ok(code) = QrCode::new(data.as_bytes()) else {
        return String::new();
    };
    code.render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_core::crypto::totp::otpauth_uri;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn qr_svg_is_inline_and_csp_safe() {
        let svg = qr_svg(&otpauth_uri(RFC_SECRET, "alice@example.com"));
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style="));
        assert!(!svg.contains("<?xml"));
        assert!(svg.contains("viewBox=\"0 0 "));
        // Only the viewBox sizes the root element, so CSS controls the size.
        let root = &svg[..svg.find('>').unwrap()];
        assert!(!root.contains("width=") && !root.contains("height="));
        assert!(svg.contains("fill=\"#000\""));
        assert_eq!(qr_svg(&"x".repeat(10_000)), "");
    }

    #[test]
    fn qr_svg_known_small_code() {
        // Version 1 is 21 modules; with the quiet zone the canvas is 29.
        let svg = qr_svg("hi");
        assert!(svg.contains(r#"viewBox="0 0 29 29""#));
        // Top-left finder pattern: a 7-module dark run starting at the quiet zone.
        assert!(svg.contains(r#"d="M4 4h7v1h-7z"#));
    }

    #[test]
    fn qr_terminal_has_quiet_zone() {
        let text = qr_terminal("hi");
        let lines: Vec<&str> = text.lines().collect();
        // 29 module rows, two per line.
        assert_eq!(lines.len(), 15);
        for line in &lines {
            assert_eq!(line.chars().count(), 29);
        }
        // The first two lines (four module rows) are pure quiet zone.
        assert!(lines[..2].iter().all(|l| l.chars().all(|c| c == '█')));
        // Dark modules are blank, so the code itself contains spaces.
        assert!(text.contains(' '));
        assert_eq!(qr_terminal(&"x".repeat(10_000)), "");
    }
}
