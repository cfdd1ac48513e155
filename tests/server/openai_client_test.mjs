// The official openai client against `ossrt serve`:
// node openai_client_test.mjs NODE_MODULES_DIR TINY_URL WEATHER_URL PREFILL_URL
// TINY_URL serves the random tiny-chat model (context 512, 4 sessions);
// PREFILL_URL the same model with one session and one token a step;
// WEATHER_URL the scripted weather model, which calls get_weather while its
// context holds no <|call|> and answers "It is sunny in Paris." once it does
// (so structured output is tested there: after a tool result, its final
// answer is what a response format constrains).
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(process.argv[2] + "/");
const OpenAI = require("openai").default;
const [tinyUrl, weatherUrl, prefillUrl] = process.argv.slice(3);
const tiny = new OpenAI({ baseURL: tinyUrl, apiKey: "unused", maxRetries: 0 });
const weather = new OpenAI({ baseURL: weatherUrl, apiKey: "unused", maxRetries: 0 });

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const answer = "It is sunny in Paris.";

async function check(name, body) {
  await body();
  console.log(`ok - ${name}`);
}

// The content and finish reason of a streamed chat completion.
async function streamChat(client, request, signal) {
  const stream = await client.chat.completions.create({ ...request, stream: true }, { signal });
  let content = "";
  let finish = null;
  let usage = null;
  const calls = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? "";
      for (const call of choice.delta.tool_calls ?? []) {
        calls[call.index] ??= { id: call.id, name: call.function?.name, arguments: "" };
        calls[call.index].arguments += call.function?.arguments ?? "";
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { content, finish, usage, calls };
}

const hello = (text) => ({ model: "tiny", temperature: 0, max_tokens: 12, messages: [{ role: "user", content: text }] });

await check("GET /v1/models lists the served model", async () => {
  const models = await tiny.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].object, "model");
});

await check("chat: non-streamed, then streamed: the same tokens at temperature 0", async () => {
  const whole = await tiny.chat.completions.create(hello("Hello there"));
  const choice = whole.choices[0];
  assert.equal(choice.message.role, "assistant");
  assert.ok(["length", "stop"].includes(choice.finish_reason), choice.finish_reason);
  assert.ok(whole.usage.completion_tokens >= 1 && whole.usage.completion_tokens <= 12);
  assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);
  if (choice.finish_reason === "length") assert.equal(whole.usage.completion_tokens, 12);
  const streamed = await streamChat(tiny, { ...hello("Hello there"), stream_options: { include_usage: true } });
  assert.equal(streamed.content + (whole.choices[0].message.reasoning_content ?? ""),
               (choice.message.content ?? "") + (choice.message.reasoning_content ?? ""));
  assert.equal(streamed.finish, choice.finish_reason);
  assert.equal(streamed.usage.completion_tokens, whole.usage.completion_tokens);
  // The same prompt again: all but its last token come from the cache.
  assert.equal(streamed.usage.prompt_tokens_details.cached_tokens, whole.usage.prompt_tokens - 1);
});

await check("chat: a tool call, then its result answered (prefix reused)", async () => {
  const messages = [{ role: "user", content: "What is the weather in Paris?" }];
  const first = await weather.chat.completions.create({ model: "w", messages, tools: [weatherTool] });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, "function");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
  messages.push(choice.message, { role: "tool", tool_call_id: call.id, content: '{"sky":"clear"}' });
  const second = await weather.chat.completions.create({ model: "w", messages, tools: [weatherTool] });
  assert.equal(second.choices[0].message.content, answer);
  assert.equal(second.choices[0].finish_reason, "stop");
  assert.ok(second.usage.prompt_tokens_details.cached_tokens > first.usage.prompt_tokens / 2,
            JSON.stringify(second.usage));
});

await check("chat: the tool call streamed", async () => {
  const streamed = await streamChat(weather, {
    model: "w", tools: [weatherTool], messages: [{ role: "user", content: "Weather in Paris?" }],
  });
  assert.equal(streamed.finish, "tool_calls");
  assert.equal(streamed.calls.length, 1);
  assert.equal(streamed.calls[0].name, "get_weather");
  assert.deepEqual(JSON.parse(streamed.calls[0].arguments), { city: "Paris" });
});

await check("chat: a stop string ends the answer before it", async () => {
  const whole = await weather.chat.completions.create({
    model: "w",
    messages: [
      { role: "user", content: "Weather?" },
      { role: "assistant", tool_calls: [{ id: "c1", type: "function",
                                          function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "c1", content: "sunny" },
    ],
    tools: [weatherTool],
    stop: [" in Paris"],
  });
  assert.equal(whole.choices[0].message.content, "It is sunny");
  assert.equal(whole.choices[0].finish_reason, "stop");
});

await check("responses: a function call, then its output answered; streamed events", async () => {
  const tools = [{ type: "function", name: "get_weather", description: "weather", parameters: weatherTool.function.parameters }];
  const first = await weather.responses.create({ model: "w", input: "What is the weather in Paris?", tools });
  assert.equal(first.object, "response");
  assert.equal(first.status, "completed");
  const call = first.output.find((item) => item.type === "function_call");
  assert.ok(call, JSON.stringify(first.output));
  assert.equal(call.name, "get_weather");
  assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
  const input = [
    { role: "user", content: "What is the weather in Paris?" },
    { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
    { type: "function_call_output", call_id: call.call_id, output: "sunny" },
  ];
  const second = await weather.responses.create({ model: "w", input, tools });
  assert.equal(second.output_text, answer);
  assert.ok(second.usage.input_tokens > 0 && second.usage.output_tokens > 0);

  const stream = await weather.responses.create({ model: "w", input, tools, stream: true });
  const types = [];
  let text = "";
  let completed = null;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") completed = event.response;
  }
  assert.equal(types[0], "response.created");
  assert.equal(types.at(-1), "response.completed");
  for (const type of ["response.output_item.added", "response.output_text.delta", "response.output_text.done",
                      "response.output_item.done"])
    assert.ok(types.includes(type), `${type} missing from ${types}`);
  assert.equal(text, answer);
  assert.equal(completed.output.find((item) => item.type === "message").content[0].text, answer);
});

await check("responses: max_output_tokens makes an incomplete response", async () => {
  const response = await tiny.responses.create({ model: "t", input: "Hi", max_output_tokens: 3, temperature: 0 });
  assert.ok(["incomplete", "completed"].includes(response.status));
  assert.ok(response.usage.output_tokens <= 3);
});

// ---- structured output, on the weather model: after a tool result it writes its final answer ----

const cityCount = {
  type: "object",
  properties: { city: { type: "string", maxLength: 12 }, n: { type: "integer" } },
  required: ["city", "n"],
  additionalProperties: false,
};
// The schema's meaning checked by hand: exactly city (at most 12 characters) and n (an integer).
function assertCityCount(text) {
  const value = JSON.parse(text);
  assert.equal(typeof value, "object", text);
  assert.deepEqual(Object.keys(value).sort(), ["city", "n"], text);
  assert.equal(typeof value.city, "string", text);
  assert.ok([...value.city].length <= 12, text);
  assert.ok(Number.isInteger(value.n), text);
}
const afterCall = [
  { role: "user", content: "Weather?" },
  { role: "assistant", tool_calls: [{ id: "c1", type: "function",
                                      function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
  { role: "tool", tool_call_id: "c1", content: "sunny" },
];
const structured = (extra) =>
  ({ model: "w", temperature: 1, max_tokens: 300, tools: [weatherTool], messages: afterCall, ...extra });

await check("structured output: chat response_format json_schema, non-streamed and streamed", async () => {
  const format = { type: "json_schema", json_schema: { name: "city_count", strict: true, schema: cityCount } };
  for (const seed of [1, 2, 3]) {
    const whole = await weather.chat.completions.create(structured({ seed, response_format: format }));
    assert.equal(whole.choices[0].finish_reason, "stop");
    const content = whole.choices[0].message.content;
    assertCityCount(content);
    assert.notEqual(content, answer);
    const streamed = await streamChat(weather, structured({ seed, response_format: format }));
    assert.equal(streamed.finish, "stop");
    assertCityCount(streamed.content);
    assert.equal(streamed.content, content);  // the same seed, the same tokens
  }
});

await check("structured output: a constrained and a free request decoded together keep their own tokens", async () => {
  const format = { type: "json_schema", json_schema: { name: "city_count", schema: cityCount } };
  const alone = await weather.chat.completions.create(structured({ seed: 9, response_format: format }));
  const [constrained, free] = await Promise.all([
    weather.chat.completions.create(structured({ seed: 9, response_format: format })),
    weather.chat.completions.create(structured({ seed: 9 })),
  ]);
  assert.equal(constrained.choices[0].message.content, alone.choices[0].message.content);
  assert.equal(free.choices[0].message.content, answer);
});

await check("structured output: json_object gives a JSON object", async () => {
  for (const seed of [4, 5]) {
    const reply = await weather.chat.completions.create(structured({ seed, response_format: { type: "json_object" } }));
    const value = JSON.parse(reply.choices[0].message.content);
    assert.ok(value !== null && typeof value === "object" && !Array.isArray(value), reply.choices[0].message.content);
  }
  // The text format is the plain answer.
  const plain = await weather.chat.completions.create(structured({ response_format: { type: "text" } }));
  assert.equal(plain.choices[0].message.content, answer);
});

await check("structured output: a strict tool's arguments follow its schema", async () => {
  const strictTool = { type: "function", function: { name: "get_weather", strict: true, parameters: {
    type: "object", properties: { city: { enum: ["Rome", "Oslo"] } }, required: ["city"], additionalProperties: false } } };
  for (const seed of [1, 2]) {
    const reply = await weather.chat.completions.create({
      model: "w", temperature: 1, seed, max_tokens: 300, tools: [strictTool],
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
    });
    assert.equal(reply.choices[0].finish_reason, "tool_calls");
    const args = JSON.parse(reply.choices[0].message.tool_calls[0].function.arguments);
    assert.ok(["Rome", "Oslo"].includes(args.city), JSON.stringify(args));  // the script wants Paris
  }
});

await check("structured output: responses text.format json_schema, non-streamed and streamed", async () => {
  const input = [
    { role: "user", content: "Weather?" },
    { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Paris"}' },
    { type: "function_call_output", call_id: "c1", output: "sunny" },
  ];
  const request = { model: "w", temperature: 1, seed: 7, max_output_tokens: 300, input,
                    tools: [{ type: "function", name: "get_weather", parameters: weatherTool.function.parameters }],
                    text: { format: { type: "json_schema", name: "city_count", strict: true, schema: cityCount } } };
  const response = await weather.responses.create(request);
  assert.equal(response.status, "completed");
  assertCityCount(response.output_text);
  // The response repeats the request's settings.
  assert.deepEqual(response.text, request.text);
  assert.deepEqual(response.tools, request.tools);
  assert.equal(response.max_output_tokens, 300);
  assert.equal(response.temperature, 1);
  assert.equal(response.reasoning.effort, "medium");
  let text = "";
  let completed = null;
  for await (const event of await weather.responses.create({ ...request, stream: true })) {
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") completed = event.response;
  }
  assert.equal(text, response.output_text);
  assert.deepEqual(completed.text, request.text);
  await assert.rejects(weather.responses.create({ ...request, text: { format: { type: "json_schema", name: "bad",
                                                                                 schema: { type: "strin" } } } }),
                       (error) => error.status === 400 && error.param === "text.format.schema" &&
                                  error.message.includes("schema at byte"));
});

await check("bad requests: 400 with an OpenAI error, through the client and raw", async () => {
  const refusals = [
    [{ messages: [{ role: "wizard", content: "hi" }] }, "messages[0].role"],
    [{ messages: [{ role: "user", content: "hi" }], temperature: "hot" }, "temperature"],
    [{ messages: "hi" }, "messages"],
    [{ messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "f", parameters: 3 } }] },
     "tools[0].function.parameters"],
    [{ messages: [{ role: "user", content: "hi" }],
       response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "strin" } } } },
     "response_format.json_schema.schema"],
    [{ messages: [{ role: "user", content: "hi" }],
       response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", minProperties: 1 } } } },
     "response_format.json_schema.schema"],
    [{ messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "f", strict: true,
       parameters: { type: "string", format: "ipv4" } } }] }, "tools[0].function.parameters"],
    [{ messages: [{ role: "user", content: "word ".repeat(2000) }] }, "messages"],
    [{ messages: [{ role: "tool", tool_call_id: "nope", content: "x" }] }, "messages[0].tool_call_id"],
  ];
  for (const [body, param] of refusals) {
    await assert.rejects(tiny.chat.completions.create({ model: "t", ...body }), (error) => {
      assert.equal(error.status, 400, JSON.stringify(body).slice(0, 200));
      assert.equal(error.param, param);
      assert.ok(error.message.length > 0);
      return true;
    });
  }
  for (const raw of ["{", "[]", '{"messages": [{"role": "user", "content": 5}]}', "\u0000"]) {
    const reply = await fetch(`${tinyUrl}/chat/completions`, { method: "POST", body: raw });
    assert.equal(reply.status, 400, raw);
    const json = await reply.json();
    assert.equal(typeof json.error.message, "string");
  }
  await assert.rejects(tiny.responses.create({ model: "t", input: [{ type: "mystery" }] }), (error) => error.status === 400);
  const notFound = await fetch(`${tinyUrl}/nothing`);
  assert.equal(notFound.status, 404);
  assert.equal(typeof (await notFound.json()).error.message, "string");
});

await check("concurrent clients: each completes with the tokens of a sequential run", async () => {
  const prompts = ["alpha", "bravo charlie", "delta echo foxtrot", "golf"].map((text) => ({ ...hello(text), max_tokens: 24 }));
  const sequential = [];
  for (const request of prompts) sequential.push((await tiny.chat.completions.create(request)).choices[0].message);
  // Different cache states this time: the pool sessions hold other prompts.
  const together = await Promise.all(prompts.map((request, i) =>
      i % 2 ? streamChat(tiny, request) : tiny.chat.completions.create(request).then((r) => ({ content: r.choices[0].message.content }))));
  together.forEach((result, i) => assert.equal(result.content, sequential[i].content ?? "", `request ${i}`));
});

const health = async (url = tinyUrl) => (await fetch(`${url.replace(/\/v1$/, "")}/health`)).json();
// Polls url's /health until no request runs there.
async function settled(url) {
  let now = await health(url);
  for (let i = 0; i < 250 && now.requests_running > 0; ++i) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = await health(url);
  }
  assert.equal(now.requests_running, 0, JSON.stringify(now));
  return now;
}

await check("a client that leaves mid-stream cancels only its request", async () => {
  const before = await health();
  assert.equal(before.status, "ok");
  assert.equal(before.requests_running, 0);
  const controller = new AbortController();
  // 450 tokens take the tiny model about half a second; the first chunk comes at once.
  const stream = await tiny.chat.completions.create(
      { ...hello("a long story"), max_tokens: 450, stream: true }, { signal: controller.signal });
  const other = tiny.chat.completions.create({ ...hello("meanwhile"), max_tokens: 40 });
  // The client swallows its own abort: the loop just ends.
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += chunk.choices.length;
    controller.abort();
  }
  assert.equal(chunks, 1);
  const finished = await other;
  assert.equal(typeof finished.choices[0].message.content, "string");
  const after = await settled(tinyUrl);
  assert.equal(after.requests_cancelled, before.requests_cancelled + 1, JSON.stringify(after));
  assert.equal(after.requests_finished, before.requests_finished + 1, JSON.stringify(after));
  const later = await tiny.chat.completions.create(hello("after"));
  assert.ok(later.usage.completion_tokens >= 1);
});

await check("a client that leaves while its prompt prefills cancels it there", async () => {
  const prefill = new OpenAI({ baseURL: prefillUrl, apiKey: "unused", maxRetries: 0 });
  const before = await health(prefillUrl);
  // About 400 tokens, prefilled one a step on this server: hundreds of steps
  // against the stream writer's 50 ms probe of a silent client.
  const request = { ...hello("once upon a time ".repeat(100)), max_tokens: 8 };
  const controller = new AbortController();
  const stream = await prefill.chat.completions.create({ ...request, stream: true }, { signal: controller.signal });
  let chunks = 0;
  for await (const chunk of stream) {  // the role chunk comes before the prefill
    chunks += chunk.choices.length;
    controller.abort();
  }
  assert.equal(chunks, 1);
  const after = await settled(prefillUrl);
  assert.equal(after.requests_cancelled, before.requests_cancelled + 1, JSON.stringify(after));
  assert.equal(after.requests_finished, before.requests_finished, JSON.stringify(after));
  // The same prompt again reuses what the cancelled prefill committed, and
  // only that: a finished prefill would have left all but its last token.
  const again = await prefill.chat.completions.create(request);
  const prompt = again.usage.prompt_tokens, cached = again.usage.prompt_tokens_details.cached_tokens;
  assert.ok(prompt > 300, `prompt ${prompt}`);
  assert.ok(cached > 0 && cached < prompt - 1, `cached ${cached} of ${prompt}`);
  assert.equal(typeof again.choices[0].message.content, "string");
  console.log(`  (${cached} of the ${prompt} prompt tokens prefilled before the cancel)`);
});

await check("a non-streamed request whose client leaves is cancelled too", async () => {
  const prefill = new OpenAI({ baseURL: prefillUrl, apiKey: "unused", maxRetries: 0 });
  const before = await health(prefillUrl);
  // Nothing comes back before the end, so only the connection tells the
  // server: the client leaves once /health shows its prompt prefilling
  // (hundreds of steps on this server).
  const leaveWhilePrefilling = async (controller) => {
    for (let i = 0; i < 250 && (await health(prefillUrl)).requests_prefilling === 0; ++i) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    controller.abort();
  };
  const controller = new AbortController();
  const request = { ...hello("far away and long ago ".repeat(80)), max_tokens: 8 };
  const leaving = leaveWhilePrefilling(controller);
  await assert.rejects(prefill.chat.completions.create(request, { signal: controller.signal }),
                       (error) => error instanceof OpenAI.APIUserAbortError);
  await leaving;
  const after = await settled(prefillUrl);
  assert.equal(after.requests_prefilling, 0, JSON.stringify(after));
  assert.equal(after.sessions, 1, JSON.stringify(after));
  assert.equal(after.requests_cancelled, before.requests_cancelled + 1, JSON.stringify(after));
  assert.equal(after.requests_finished, before.requests_finished, JSON.stringify(after));
  // The Responses route watches its connection the same way.
  const responses = new AbortController();
  const left = leaveWhilePrefilling(responses);
  await assert.rejects(prefill.responses.create({ model: "tiny", input: "far and wide ".repeat(100), max_output_tokens: 8 },
                                                { signal: responses.signal }),
                       (error) => error instanceof OpenAI.APIUserAbortError);
  await left;
  const last = await settled(prefillUrl);
  assert.equal(last.requests_cancelled, after.requests_cancelled + 1, JSON.stringify(last));
  assert.equal(last.requests_finished, after.requests_finished, JSON.stringify(last));
});
