/* What the scripted weather model (tests/support/scripted_checkpoint.hpp)
 * writes after a prompt ending in "<|start|>assistant": a get_weather call
 * while the context holds no <|call|>, then, once a call is in the history,
 * the final answer. Shared by the fixture writer and the tests and example
 * runs that check what the model did. Plain C: the C tests include it too. */
#ifndef OSSRT_TESTS_SUPPORT_WEATHER_SCRIPT_H
#define OSSRT_TESTS_SUPPORT_WEATHER_SCRIPT_H

#define OSSRT_WEATHER_TOOL "functions.get_weather"
#define OSSRT_WEATHER_ARGUMENTS "{\"city\":\"Paris\"}"
/* The recipient in the role part, as gpt-oss often writes it. */
#define OSSRT_WEATHER_CALL_TEXT \
  " to=" OSSRT_WEATHER_TOOL "<|channel|>commentary <|constrain|>json<|message|>" OSSRT_WEATHER_ARGUMENTS "<|call|>"
#define OSSRT_WEATHER_ANSWER "It is sunny in Paris."
#define OSSRT_WEATHER_ANSWER_TEXT "<|channel|>final<|message|>" OSSRT_WEATHER_ANSWER "<|return|>"

#endif
