// Push-to-talk capture: hands each block of microphone samples (Float32, mono) to the page.
class PttCapture extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input && input[0]) this.port.postMessage(input[0].slice(0));
    return true;
  }
}
registerProcessor("ptt-capture", PttCapture);
