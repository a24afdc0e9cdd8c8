//! CAPTCHAs: an image, and the same characters spoken for visitors who cannot see it. The
//! answer stays on the server (on the form's ticket, `spam::ticket`), expires after ten
//! minutes, and is used up by the first post, right or wrong.

use std::io::Cursor;

use captcha::Captcha;
use captcha::filters::{Noise, Wave};
use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use crate::crypto;
use vault_core::tickets::Claimed;

pub const LIFETIME_SECONDS: i64 = 600;
const LENGTH: u32 = 5;
/// Upper-case letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
const ALPHABET: &[char] = &[
    'A', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'M', 'N', 'P', 'Q', 'R', 'T', 'U', 'V', 'W', 'X',
    'Y', '3', '4', '6', '7', '9',
];
/// The format of the crate's recordings, and so of the spoken CAPTCHA.
const SPEC: WavSpec = WavSpec {
    channels: 1,
    sample_rate: 22050,
    bits_per_sample: 16,
    sample_format: SampleFormat::Int,
};
/// Silence before the first character and after each one.
const PAUSE_SAMPLES: u32 = 22050 / 2;

/// A fresh challenge: (answer, PNG). `None` only if the image could not be encoded.
pub fn generate() -> Option<(String, Vec<u8>)> {
    let mut c = Captcha::new();
    c.set_chars(ALPHABET)
        .add_chars(LENGTH)
        .apply_filter(Noise::new(0.2))
        .apply_filter(Wave::new(2.0, 12.0))
        .view(220, 90);
    let png = c.as_png()?;
    Some((c.chars_as_string(), png))
}

/// A fresh answer without an image (for a visitor who asks for the audio first).
pub fn new_answer() -> String {
    let mut c = Captcha::new();
    c.set_chars(ALPHABET).add_chars(LENGTH);
    c.chars_as_string()
}

/// `answer` spoken, one character after another with pauses, as one WAV file (the `captcha`
/// crate's recording of each character, with its noise). `None` if a recording is missing.
pub fn audio(answer: &str) -> Option<Vec<u8>> {
    let mut c = Captcha::new();
    for ch in answer.chars() {
        // One character to choose from: `add_char` takes exactly this one.
        c.set_chars(&[ch]).add_char();
    }
    if c.chars_as_string() != answer {
        return None;
    }
    let mut out = Cursor::new(Vec::new());
    let mut writer = WavWriter::new(&mut out, SPEC).ok()?;
    let pause = |w: &mut WavWriter<_>| (0..PAUSE_SAMPLES).try_for_each(|_| w.write_sample(0i16));
    pause(&mut writer).ok()?;
    for clip in c.as_wav() {
        let clip = clip?;
        let mut reader = WavReader::new(clip.as_slice()).ok()?;
        if reader.spec() != SPEC {
            return None;
        }
        for sample in reader.samples::<i16>() {
            writer.write_sample(sample.ok()?).ok()?;
        }
        pause(&mut writer).ok()?;
    }
    writer.finalize().ok()?;
    Some(out.into_inner())
}

/// Does `input` answer the CAPTCHA on the claimed ticket (in time)?
pub fn matches(claimed: Option<&Claimed>, input: &str, now: i64) -> bool {
    let Some((answer, expires)) =
        claimed.and_then(|c| Some((c.answer.as_deref()?, c.answer_expires?)))
    else {
        return false;
    };
    let given: String = input.split_whitespace().collect::<String>().to_uppercase();
    expires > now && !given.is_empty() && crypto::same_secret(given.as_bytes(), answer.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_use_only_unambiguous_characters() {
        for _ in 0..20 {
            let (answer, png) = generate().unwrap();
            assert_eq!(answer.chars().count(), LENGTH as usize);
            assert!(answer.chars().all(|c| ALPHABET.contains(&c)), "{answer}");
            assert!(png.starts_with(b"\x89PNG"));
        }
        for ambiguous in ['0', 'O', '1', 'I', 'L', 'l', 'o'] {
            assert!(!ALPHABET.contains(&ambiguous));
        }
    }

    #[test]
    fn the_audio_says_every_character_of_the_answer() {
        let answer = new_answer();
        let wav = audio(&answer).expect("every character has a recording");
        let reader = WavReader::new(wav.as_slice()).expect("a valid WAV");
        assert_eq!(reader.spec(), SPEC);
        // Five recordings and six pauses: longer than the pauses alone.
        assert!(
            reader.duration() > 6 * PAUSE_SAMPLES,
            "{}",
            reader.duration()
        );
        assert!(audio("A?").is_none(), "no recording of '?'");
    }

    #[test]
    fn answers_match_once_in_time_case_insensitively() {
        let claimed = Claimed {
            started: 0,
            answer: Some("AC3D9".into()),
            answer_expires: Some(100),
        };
        assert!(matches(Some(&claimed), "ac3 d9", 99));
        assert!(!matches(Some(&claimed), "ac3d9", 100), "expired");
        assert!(!matches(Some(&claimed), "", 1));
        assert!(!matches(Some(&claimed), "AC3D7", 1));
        let no_image = Claimed {
            answer: None,
            answer_expires: None,
            ..claimed
        };
        assert!(!matches(Some(&no_image), "AC3D9", 1));
        assert!(!matches(None, "AC3D9", 1));
    }
}
