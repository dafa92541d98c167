//! The camera and microphone, for calls: a [`LocalMedia`] stream, stopped when dropped.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};

use crate::js::{Context, JsError};

/// The page's microphone, and camera for a video call, while a call needs them. Dropping it
/// stops every track, which turns the browser's camera and microphone indicators off.
#[derive(Debug)]
pub struct LocalMedia {
    stream: MediaStream,
}

impl LocalMedia {
    /// Asks the browser for the microphone, and the camera when `video`: the person may be
    /// asked to allow it, and may refuse.
    pub async fn capture(video: bool) -> Result<Self, JsError> {
        let devices = web_sys::window()
            .ok_or_else(|| JsError {
                context: "opening the camera and microphone",
                message: "there is no window".into(),
            })?
            .navigator()
            .media_devices()
            .context("opening the camera and microphone")?;
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio_bool(true);
        constraints.set_video_bool(video);
        let promise = devices
            .get_user_media_with_constraints(&constraints)
            .context("opening the camera and microphone")?;
        let stream = JsFuture::from(promise)
            .await
            .context("opening the camera and microphone")?
            .dyn_into::<MediaStream>()
            .map_err(|value| JsError::new("opening the camera and microphone", &value))?;
        Ok(Self { stream })
    }

    /// The stream, to send on a call or show as a preview. Copy the handle with
    /// `Clone::clone(stream)`: `stream.clone()` is `MediaStream.clone()`, a new stream of new
    /// tracks that mute and stop do not reach.
    #[must_use]
    pub fn stream(&self) -> &MediaStream {
        &self.stream
    }

    /// Whether it has a camera's video.
    #[must_use]
    pub fn has_video(&self) -> bool {
        self.stream.get_video_tracks().length() > 0
    }

    /// Sends or holds back the audio and the video: a held-back track sends silence or black
    /// frames, and the call goes on.
    pub fn set_sending(&self, audio: bool, video: bool) {
        for track in tracks(&self.stream) {
            match track.kind().as_str() {
                "audio" => track.set_enabled(audio),
                "video" => track.set_enabled(video),
                _ => {}
            }
        }
    }
}

impl Drop for LocalMedia {
    fn drop(&mut self) {
        for track in tracks(&self.stream) {
            track.stop();
        }
    }
}

/// Every track of `stream`.
fn tracks(stream: &MediaStream) -> impl Iterator<Item = MediaStreamTrack> {
    stream
        .get_tracks()
        .into_iter()
        .filter_map(|track| track.dyn_into::<MediaStreamTrack>().ok())
}
